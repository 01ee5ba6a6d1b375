fn main() {
    s6_tls::programs::tlsd::main()
}
