from cxml.cli import main

main()
