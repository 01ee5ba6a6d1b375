fn main() {
    s6_tls::programs::applyuidgid::main()
}
