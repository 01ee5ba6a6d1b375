fn main() {
    s6_tls::programs::accessrules_fs_from_cdb::main()
}
