from mnist_rules.cli import main

main()
