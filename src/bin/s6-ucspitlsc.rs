fn main() {
    s6_tls::programs::ucspitlsc::main()
}
