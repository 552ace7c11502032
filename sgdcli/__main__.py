from sgdcli.cli.app import main

main()
