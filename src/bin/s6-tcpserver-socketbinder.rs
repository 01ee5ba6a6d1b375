fn main() {
    s6_tls::programs::tcpserver_socketbinder::main()
}
