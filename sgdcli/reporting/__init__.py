"""What a user sees while sgdcli works: progress (bars, plain lines), epoch records, learning curves."""
