fn main() {
    s6_tls::programs::tcpserverd::main()
}
