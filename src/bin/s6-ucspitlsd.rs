fn main() {
    s6_tls::programs::ucspitlsd::main()
}
