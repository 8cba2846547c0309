from geomsci.cli import main

main()
