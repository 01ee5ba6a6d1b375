fn main() {
    s6_tls::programs::proxy_server::main()
}
