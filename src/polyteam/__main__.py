"""`python -m polyteam`: the same command line as `polyteam`."""

from polyteam.cli import main

if __name__ == "__main__":
    main()
