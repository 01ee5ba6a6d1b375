fn main() {
    s6_tls::programs::tlsc_io::main()
}
