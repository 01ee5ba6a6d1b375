fn main() {
    s6_tls::programs::tlsserver::main()
}
