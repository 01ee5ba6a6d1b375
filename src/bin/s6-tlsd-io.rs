fn main() {
    s6_tls::programs::tlsd_io::main()
}
