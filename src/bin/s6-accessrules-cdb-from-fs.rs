fn main() {
    s6_tls::programs::accessrules_cdb_from_fs::main()
}
