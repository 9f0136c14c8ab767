from experiments.bench import main

if __name__ == "__main__":  # not when a spawned measuring process imports this module
    main()
