fn main() {
    s6_tls::programs::tcpserver::main()
}
