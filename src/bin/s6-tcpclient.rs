fn main() {
    s6_tls::programs::tcpclient::main()
}
