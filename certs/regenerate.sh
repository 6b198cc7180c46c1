#!/usr/bin/env bash
# Remakes every test certificate in certs/ (see README.md for what each one is for).
#
#   certs/regenerate.sh                  # needs openssl (3.x) and cargo
#   certs/regenerate.sh --openssl-only   # leave the tool/ chain as it is
#   certs/regenerate.sh --tool-only      # remake only the tool/ chain
#   certs/regenerate.sh --only "fisco-2.11 fisco-3.x"   # remake only these openssl sets
#
# The openssl parts follow FISCO BCOS's build_chain.sh command by command (2.5+ secp256k1 chains,
# 2.11+ chains whose CA is X.509 v1, 2.0-2.4 chains with an RSA CA and agency, the enterprise
# generator's node+agency bundle, and 3.x chains of RSA node certificates with their config.ini and
# nodes.json), so the test suite sees certificates exactly as FISCO users have them on disk. The "tool" chain is made by our own `fisco-p2p certs`. All keys here are test keys:
# never use them for a real chain.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OPENSSL=1 TOOL=1 ONLY=""
case "${1:-}" in
    --openssl-only) TOOL=0 ;;
    --tool-only) OPENSSL=0 ;;
    --only) TOOL=0; ONLY="${2:?--only takes a list of sets}" ;;
    "") ;;
    *) echo "usage: $0 [--openssl-only | --tool-only | --only \"SET...\"]" >&2; exit 2 ;;
esac
DAYS=36500
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# FISCO's cert.cnf: v3_req for nodes (CA:FALSE + keyUsage, no EKU), v4_req for agencies (CA:TRUE).
write_cert_cnf() {
    cat >"$1" <<'CNF'
[ca]
default_ca=default_ca
[default_ca]
default_days = 365
default_md = sha256

[req]
distinguished_name = req_distinguished_name
req_extensions = v3_req
[req_distinguished_name]
countryName = CN
countryName_default = CN
stateOrProvinceName = State or Province Name (full name)
stateOrProvinceName_default =GuangDong
localityName = Locality Name (eg, city)
localityName_default = ShenZhen
organizationalUnitName = Organizational Unit Name (eg, section)
organizationalUnitName_default = fisco-bcos
commonName =  Organizational  commonName (eg, fisco-bcos)
commonName_default = fisco-bcos
commonName_max = 64

[ v3_req ]
basicConstraints = CA:FALSE
keyUsage = nonRepudiation, digitalSignature, keyEncipherment

[ v4_req ]
basicConstraints = CA:TRUE
CNF
}

# FISCO's recipe for node.nodeid: the public key lines of `openssl ec -text`, without the 04 prefix.
write_nodeid() {
    openssl ec -text -noout -in "$1/node.key" 2>/dev/null | sed -n '7,11p' | tr -d ": \n" \
        | awk '{print substr($0,3);}' >"$1/node.nodeid"
}

# gen_chain_cert of build_chain >= 2.5: secp256k1 CA, self-signed.
openssl_chain_secp256k1() { # dir name
    mkdir -p "$1"
    openssl ecparam -out "$1/secp256k1.param" -name secp256k1
    openssl genpkey -paramfile "$1/secp256k1.param" -out "$1/ca.key"
    openssl req -new -x509 -days "$DAYS" -subj "/CN=$2/O=fisco-bcos/OU=chain" -key "$1/ca.key" -out "$1/ca.crt"
    write_cert_cnf "$1/cert.cnf"
}

# gen_chain_cert of build_chain >= 2.11: the same secp256k1 CA, but made with `-config cert.cnf`,
# whose [req] names no x509_extensions: the CA certificate is X.509 v1, without extensions.
openssl_chain_secp256k1_v1() { # dir name
    mkdir -p "$1"
    write_cert_cnf "$1/cert.cnf"
    openssl ecparam -out "$1/secp256k1.param" -name secp256k1
    openssl genpkey -paramfile "$1/secp256k1.param" -out "$1/ca.key"
    openssl req -new -x509 -days "$DAYS" -subj "/CN=$2/O=fisco-bcos/OU=chain" -key "$1/ca.key" \
        -config "$1/cert.cnf" -out "$1/ca.crt"
}

# gen_chain_cert of build_chain 2.0-2.4: RSA-2048 CA.
openssl_chain_rsa() { # dir name
    mkdir -p "$1"
    openssl genrsa -out "$1/ca.key" 2048 2>/dev/null
    openssl req -new -x509 -days "$DAYS" -subj "/CN=$2/O=fisco-bcos/OU=chain" -key "$1/ca.key" -out "$1/ca.crt"
    openssl ecparam -out "$1/secp256k1.param" -name secp256k1
    write_cert_cnf "$1/cert.cnf"
}

# gen_agency_cert: the agency key is of the chain's kind (secp256k1 or RSA), CA:TRUE, signed by the CA.
openssl_agency() { # chain_dir agency_dir name rsa|secp256k1
    mkdir -p "$2"
    if [ "$4" = rsa ]; then
        openssl genrsa -out "$2/agency.key" 2048 2>/dev/null
    else
        openssl genpkey -paramfile "$1/secp256k1.param" -out "$2/agency.key"
    fi
    openssl req -new -sha256 -subj "/CN=$3/O=fisco-bcos/OU=agency" -key "$2/agency.key" \
        -config "$1/cert.cnf" -out "$2/agency.csr"
    openssl x509 -req -days "$DAYS" -sha256 -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial \
        -in "$2/agency.csr" -out "$2/agency.crt" -extensions v4_req -extfile "$1/cert.cnf" 2>/dev/null
    cp "$1/ca.crt" "$1/cert.cnf" "$1/secp256k1.param" "$2/"
}

# A node key: PKCS#8 as `openssl genpkey` writes it (FISCO >= 2.5), or SEC1 with its EC PARAMETERS
# block as `openssl ecparam -genkey` writes it (older tools).
openssl_node_key() { # agency_dir node_dir pkcs8|sec1
    if [ "$3" = sec1 ]; then
        openssl ecparam -genkey -name secp256k1 -out "$2/node.key"
    else
        openssl genpkey -paramfile "$1/secp256k1.param" -out "$2/node.key"
    fi
}

# gen_node_cert: node cert signed by the agency (v3_req), bundle node + agency + ca, node.nodeid.
openssl_node() { # agency_dir node_dir name pkcs8|sec1 [extensions]
    mkdir -p "$2"
    openssl_node_key "$1" "$2" "$4"
    openssl req -new -sha256 -subj "/CN=$3/O=fisco-bcos/OU=node" -key "$2/node.key" \
        -config "$1/cert.cnf" -out "$2/node.csr"
    openssl x509 -req -days "$DAYS" -sha256 -CA "$1/agency.crt" -CAkey "$1/agency.key" -CAcreateserial \
        -in "$2/node.csr" -out "$2/node.crt" -extensions "${5:-v3_req}" -extfile "$1/cert.cnf" 2>/dev/null
    finish_node "$1" "$2"
}

finish_node() { # agency_dir node_dir
    cat "$1/agency.crt" "$1/ca.crt" >>"$2/node.crt"
    cp "$1/ca.crt" "$2/ca.crt"
    rm -f "$2/node.csr"
    if openssl ec -text -noout -in "$2/node.key" 2>/dev/null | grep -q 'ASN1 OID: secp256k1'; then
        write_nodeid "$2"
    fi
}

# A node certificate with an explicit validity window, which `openssl x509` (3.0) cannot set:
# `openssl ca` signs the CSR instead, with FISCO's v3_req extensions.
openssl_node_dated() { # agency_dir node_dir name startdate enddate
    mkdir -p "$2"
    local db="$WORK/ca-db"
    rm -rf "$db" && mkdir -p "$db/new" && : >"$db/index.txt" && echo 01 >"$db/serial"
    cat >"$db/ca.cnf" <<CNF
[ca]
default_ca = fixture_ca
[fixture_ca]
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db/new
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
CNF
    openssl_node_key "$1" "$2" pkcs8
    openssl req -new -sha256 -subj "/CN=$3/O=fisco-bcos/OU=node" -key "$2/node.key" \
        -config "$1/cert.cnf" -out "$2/node.csr"
    openssl ca -batch -config "$db/ca.cnf" -cert "$1/agency.crt" -keyfile "$1/agency.key" -rand_serial \
        -preserveDN -notext -startdate "$4" -enddate "$5" -extfile "$1/cert.cnf" -extensions v3_req \
        -in "$2/node.csr" -out "$2/node.crt" 2>/dev/null
    finish_node "$1" "$2"
}

# A P-256 node (FISCO never makes one; peers must refuse it by key type).
openssl_node_p256() { # agency_dir node_dir name
    mkdir -p "$2"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$2/node.key"
    openssl req -new -sha256 -subj "/CN=$3/O=fisco-bcos/OU=node" -key "$2/node.key" \
        -config "$1/cert.cnf" -out "$2/node.csr"
    openssl x509 -req -days "$DAYS" -sha256 -CA "$1/agency.crt" -CAkey "$1/agency.key" -CAcreateserial \
        -in "$2/node.csr" -out "$2/node.crt" -extensions v3_req -extfile "$1/cert.cnf" 2>/dev/null
    finish_node "$1" "$2"
}

# A FISCO 2.x node folder as build_chain lays it out: config.ini beside conf/ (the certificates).
# The peers are the nodes of the same chain on 127.0.0.1 from port 30300 (tests rewrite the ports).
fisco2_node_folder() { # folder index count
    local conf="$1/conf"
    mkdir -p "$conf"
    mv "$1/node.key" "$1/node.crt" "$1/ca.crt" "$1/node.nodeid" "$conf/"
    {
        echo "[rpc]"
        echo "    channel_listen_ip=0.0.0.0"
        echo "    channel_listen_port=$((20200 + $2))"
        echo "    jsonrpc_listen_ip=127.0.0.1"
        echo "    jsonrpc_listen_port=$((8545 + $2))"
        echo "[p2p]"
        echo "    listen_ip=0.0.0.0"
        echo "    listen_port=$((30300 + $2))"
        echo "    ; nodes to connect"
        for ((i = 0; i < $3; i++)); do echo "    node.$i=127.0.0.1:$((30300 + i))"; done
        echo "    ; enable_compress=true"
        echo "[certificate_blacklist]"
        echo "    ; crl.0 should be nodeid, nodeid's length is 128"
        echo "    ;crl.0="
        echo "[certificate_whitelist]"
        echo "    ; cal.0 should be nodeid, nodeid's length is 128"
        echo "    ;cal.0="
        echo "[group]"
        echo "    group_data_path=data/"
        echo "    group_config_path=conf/"
        echo "[network_security]"
        echo "    ; directory the certificates located in"
        echo "    data_path=conf/"
        echo "    ; the node private key file"
        echo "    key=node.key"
        echo "    ; the node certificate file"
        echo "    cert=node.crt"
        echo "    ; the ca certificate file"
        echo "    ca_cert=ca.crt"
        echo "[chain]"
        echo "    id=1"
        echo "    ; use SM crypto or not, should nerver be changed"
        echo "    sm_crypto=false"
        echo "    sm_crypto_channel=false"
        echo "[compatibility]"
        echo "    ; supported_version should nerver be changed"
        echo "    supported_version=2.11.0"
        echo "[log]"
        echo "    enable=true"
        echo "    log_path=./log"
        echo "    level=info"
    } >"$1/config.ini"
}

# --- FISCO 3.x (BcosAirBuilder/build_chain.sh, non-SM) -------------------------------------------
# The chain CA is RSA-2048 made with `-config cert.cnf` (X.509 v1). Each node gets conf/ssl.key (RSA,
# converted to PKCS#8), conf/ssl.crt (one certificate, CA:FALSE, subject CN=FISCO-BCOS-<random> the
# same on every node, O=fisco-bcos, OU=agency), conf/ca.crt, conf/ssl.nodeid (the modulus),
# conf/node.pem and conf/node.nodeid (the secp256k1 consensus key), config.ini and nodes.json.
openssl_chain_fisco3() { # dir
    mkdir -p "$1"
    write_cert_cnf "$1/cert.cnf"
    openssl genrsa -out "$1/ca.key" 2048 2>/dev/null
    openssl req -new -x509 -days "$DAYS" -subj "/CN=FISCO-BCOS-$FISCO3_SUFFIX/O=fisco-bcos/OU=chain" \
        -key "$1/ca.key" -config "$1/cert.cnf" -out "$1/ca.crt"
    openssl ecparam -out "$1/secp256k1.param" -name secp256k1
}

openssl_node_fisco3() { # chain_dir node_folder index count
    local conf="$2/conf"
    mkdir -p "$conf"
    openssl genrsa -out "$conf/ssl.key" 2048 2>/dev/null
    openssl req -new -sha256 -subj "/CN=FISCO-BCOS-$FISCO3_SUFFIX/O=fisco-bcos/OU=agency" \
        -key "$conf/ssl.key" -config "$1/cert.cnf" -out "$conf/ssl.csr"
    openssl x509 -req -days "$DAYS" -sha256 -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial \
        -in "$conf/ssl.csr" -out "$conf/ssl.crt" -extensions v3_req -extfile "$1/cert.cnf" 2>/dev/null
    openssl pkcs8 -topk8 -in "$conf/ssl.key" -out "$conf/pkcs8_node.key" -nocrypt
    mv "$conf/pkcs8_node.key" "$conf/ssl.key"
    cp "$1/ca.crt" "$conf/ca.crt"
    openssl rsa -in "$conf/ssl.key" -noout -modulus 2>/dev/null | sed 's/Modulus=//' | tr 'A-Z' 'a-z' \
        >"$conf/ssl.nodeid"
    # generate_node_account: the consensus key, named like a 2.x node ID.
    openssl genpkey -paramfile "$1/secp256k1.param" -out "$conf/node.pem" 2>/dev/null
    openssl ec -in "$conf/node.pem" -text -noout 2>/dev/null | sed -n '7,11p' | tr -d ": \n" \
        | awk '{print substr($0,3);}' >"$conf/node.nodeid"
    rm -f "$conf/ssl.csr"
    local nodes=""
    for ((i = 0; i < $4; i++)); do nodes="$nodes${nodes:+,}\"127.0.0.1:$((30300 + i))\""; done
    echo "{\"nodes\":[$nodes]}" >"$2/nodes.json"
    cat >"$2/config.ini" <<INI
[p2p]
    listen_ip=0.0.0.0
    listen_port=$((30300 + $3))
    ; ssl or sm ssl
    sm_ssl=false
    nodes_path=./
    nodes_file=nodes.json
    ; enable rip protocol, default: true
    ; enable_rip_protocol=false
    ; enable compression for p2p message, default: true
    ; enable_compression=false

[certificate_blacklist]
    ; crl.0 should be nodeid, nodeid's length is 512
    ;crl.0=

[certificate_whitelist]
    ; cal.0 should be nodeid, nodeid's length is 512
    ;cal.0=

[rpc]
    listen_ip=0.0.0.0
    listen_port=$((20200 + $3))
    thread_count=4
    ; ssl or sm ssl
    sm_ssl=false
    ; ssl connection switch, if disable the ssl connection, default: false
    ;disable_ssl=true

[web3_rpc]
    enable=false
    listen_ip=127.0.0.1
    listen_port=$((8545 + $3))
    thread_count=8

[cert]
    ; directory the certificates located in
    ca_path=./conf
    ; the ca certificate file
    ca_cert=ca.crt
    ; the node private key file
    node_key=ssl.key
    ; the node certificate file
    node_cert=ssl.crt
    ; directory the multiple certificates located in
    multi_ca_path=multiCaPath

[chain]
    ; use SM crypto or not, should nerver be changed
    sm_crypto=false
    ; the group id, should nerver be changed
    group_id=group0
    ; the chain id, should nerver be changed
    chain_id=chain0

[security]
    private_key_path=conf/node.pem

[consensus]
    ; min block generation time(ms)
    min_seal_time=500

[storage]
    data_path=data
    enable_cache=true

[txpool]
    ; size of the txpool, default is 15000
    limit=15000

[log]
    enable=true
    ; print the log to std::cout or not, default print to the log files
    enable_console_output=false
    log_path=./log
    ; info debug trace
    level=info
    ; MB
    max_log_file_size=1024
INI
}

tidy() { # dir: drop build_chain's by-products that the tests do not need
    find "$1" \( -name '*.csr' -o -name '*.srl' -o -name '*.param' -o -name cert.cnf \) -delete
}

make_openssl_fixtures() {
# --- FISCO >= 2.5: secp256k1 everywhere ---------------------------------------------------------
F25="$WORK/fisco-2.5"
openssl_chain_secp256k1 "$F25/ca" chain0
openssl_agency "$F25/ca" "$F25/agency" agency0 secp256k1
openssl_node "$F25/agency" "$F25/node0" node0 pkcs8
openssl_node "$F25/agency" "$F25/node1" node1 pkcs8
openssl_node "$F25/agency" "$F25/node2-sec1" node2 sec1

# --- FISCO 2.0-2.4: RSA-2048 CA and agency, secp256k1 nodes ------------------------------------
F20="$WORK/fisco-2.0-rsa"
openssl_chain_rsa "$F20/ca" chain0
openssl_agency "$F20/ca" "$F20/agency" agency0 rsa
openssl_node "$F20/agency" "$F20/node0" node0 pkcs8
openssl_node "$F20/agency" "$F20/node1" node1 pkcs8

# --- FISCO >= 2.11: secp256k1, X.509 v1 chain CA; node folders with config.ini beside conf/ -------
F211="$WORK/fisco-2.11"
openssl_chain_secp256k1_v1 "$F211/ca" chain0
openssl_agency "$F211/ca" "$F211/agency" agency0 secp256k1
for n in 0 1; do
    openssl_node "$F211/agency" "$F211/node$n" "node$n" pkcs8
    fisco2_node_folder "$F211/node$n" "$n" 3
done
# The enterprise generator's bundle: node.crt holds the node and agency certificates, not the CA.
openssl_node "$F211/agency" "$F211/node2" node2 pkcs8
cat "$F211/node2/node.crt" | awk '/BEGIN/{n++} n<=2' >"$WORK/generator.crt"
mv "$WORK/generator.crt" "$F211/node2/node.crt"
fisco2_node_folder "$F211/node2" 2 3

# --- FISCO 3.x: RSA node certificates under an RSA v1 CA -----------------------------------------
F3="$WORK/fisco-3.x"
FISCO3_SUFFIX="$(openssl rand -hex 4)"
openssl_chain_fisco3 "$F3/ca"
for n in 0 1 2; do openssl_node_fisco3 "$F3/ca" "$F3/node$n" "$n" 3; done

# --- Nodes every peer of the fisco-2.5 chain must refuse ----------------------------------------
BAD="$WORK/bad"
openssl_chain_secp256k1 "$BAD/foreign-ca/ca" foreign0
openssl_agency "$BAD/foreign-ca/ca" "$BAD/foreign-ca/agency" foreign-agency secp256k1
openssl_node "$BAD/foreign-ca/agency" "$BAD/foreign-ca" foreign-node pkcs8
rm -rf "$BAD/foreign-ca/ca" "$BAD/foreign-ca/agency"
openssl_node_dated "$F25/agency" "$BAD/expired" expired-node 20000101000000Z 20010101000000Z
openssl_node_dated "$F25/agency" "$BAD/not-yet-valid" future-node 21000101000000Z 21100101000000Z
openssl_node "$F25/agency" "$BAD/ca-leaf" ca-leaf pkcs8 v4_req
openssl_node_p256 "$F25/agency" "$BAD/p256-leaf" p256-node
# wrong-key: node1's certificate bundle beside a freshly made key that is not node1's.
mkdir -p "$BAD/wrong-key"
openssl_node_key "$F25/agency" "$BAD/wrong-key" pkcs8
cp "$F25/node1/node.crt" "$F25/node1/ca.crt" "$BAD/wrong-key/"
}

# --- Our own tool: CA, agency, nodes via the agency and one signed directly by the CA ----------
make_tool_fixtures() {
local TOOLDIR="$WORK/tool"
FISCO_P2P="${FISCO_P2P:-}"
if [ -z "$FISCO_P2P" ]; then
    cargo build --quiet --manifest-path "$HERE/../Cargo.toml" --bin fisco-p2p
    FISCO_P2P="$HERE/../target/debug/fisco-p2p"
fi
"$FISCO_P2P" certs ca --out "$TOOLDIR/ca" --name chain0
"$FISCO_P2P" certs agency --ca "$TOOLDIR/ca" --out "$TOOLDIR/agency" --name agency0
for n in 0 1; do
    "$FISCO_P2P" certs node --ca "$TOOLDIR/ca" --agency "$TOOLDIR/agency" --out "$TOOLDIR/node$n" --name "node$n"
done
"$FISCO_P2P" certs node --ca "$TOOLDIR/ca" --out "$TOOLDIR/node-direct" --name node-direct
# Our node.nodeid must be what FISCO's recipe derives from the key.
for node in "$TOOLDIR"/node*; do
    mv "$node/node.nodeid" "$WORK/ours"
    write_nodeid "$node"
    cmp -s "$WORK/ours" "$node/node.nodeid" || { echo "node.nodeid differs from FISCO's in $node" >&2; exit 1; }
done
}

DIRS=""
if [ "$OPENSSL" = 1 ]; then make_openssl_fixtures; DIRS="fisco-2.5 fisco-2.11 fisco-2.0-rsa fisco-3.x bad"; fi
if [ "$TOOL" = 1 ]; then make_tool_fixtures; DIRS="$DIRS tool"; fi
if [ -n "$ONLY" ]; then DIRS="$ONLY"; fi

for dir in $DIRS; do
    tidy "$WORK/$dir"
    rm -rf "${HERE:?}/$dir"
    cp -r "$WORK/$dir" "$HERE/$dir"
done
echo "certs/: regenerated $DIRS"
