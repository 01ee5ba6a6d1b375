fn main() {
    s6_tls::programs::ioconnect::main()
}
