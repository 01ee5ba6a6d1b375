fn main() {
    s6_tls::programs::tlsclient::main()
}
