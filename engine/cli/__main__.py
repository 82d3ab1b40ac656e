"""`python -m engine.cli`: the same as `visuallens`."""

from engine.cli.app import main

if __name__ == "__main__":
    main()
