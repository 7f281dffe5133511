from adcli._cli.main import main

main()
