fn main() {
    s6_tls::programs::tlsc::main()
}
