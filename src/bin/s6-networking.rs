fn main() {
    s6_tls::multicall::main()
}
