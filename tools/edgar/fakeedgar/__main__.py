from fakeedgar.server import main

main()
