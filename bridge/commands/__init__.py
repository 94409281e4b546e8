"""One module per `loopbridge` subcommand; each exposes `register(subparsers)`."""
