from svcprep.cli.main import main

main()
