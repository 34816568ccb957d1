"""The command line's exit statuses."""

EXIT_OK = 0  # done; for a batch: every line was good
EXIT_FAILED = 1  # the rules' tests failed, a case is invalid, or a batch skipped lines
EXIT_USAGE = 2  # the arguments or the input cannot be used at all, or the run failed
