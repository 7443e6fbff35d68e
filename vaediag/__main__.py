from .cli import main

if __name__ == "__main__":  # python -m vaediag (importing this module runs nothing)
    main()
