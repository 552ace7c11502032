from sgdcli.cli import main

main()
