# Sourced by the tests of the HTTPS API: certificates made at test time with certtool
# (gnutls-bin), ECDSA P-256 so that making them takes milliseconds.
#   make_certs DIR   writes into DIR:
#     ca.pem                    the CA aster-control trusts (tls_client_ca)
#     server.{pem,key}          aster-control's certificate, for 127.0.0.1 and localhost
#     ops-alice.{pem,key}       a client of that CA (the tests give it the write role)
#     desk-bob.{pem,key}        a client of that CA (the read role)
#     eve.{pem,key}             a client of that CA that no role names
#     expired.{pem,key}         CN ops-alice, of that CA, valid in 2020 only
#     other-alice.{pem,key}     CN ops-alice, signed by another CA
make_certs() {
	local d=$1 c
	mkdir -p "$d"
	# certtool KEY TEMPLATE-LINES... : a key and a template in $d/NAME.{key,tmpl}
	_cert_key() {
		certtool --generate-privkey --key-type=ecdsa --outfile "$d/$1.key" >/dev/null 2>&1 ||
			fail "certtool: cannot make the key $1"
	}
	_cert_tmpl() {
		local name=$1
		shift
		printf '%s\n' "$@" >"$d/$name.tmpl"
	}
	# _cert_sign NAME CA: NAME's certificate signed by CA (self-signed when CA is NAME)
	_cert_sign() {
		if [ "$1" = "$2" ]; then
			certtool --generate-self-signed --load-privkey "$d/$1.key" \
				--template "$d/$1.tmpl" --outfile "$d/$1.pem" >/dev/null 2>&1
		else
			certtool --generate-certificate --load-privkey "$d/$1.key" \
				--load-ca-certificate "$d/$2.pem" --load-ca-privkey "$d/$2.key" \
				--template "$d/$1.tmpl" --outfile "$d/$1.pem" >/dev/null 2>&1
		fi || fail "certtool: cannot sign $1 with $2"
	}
	for c in ca other-ca; do
		_cert_key "$c"
		_cert_tmpl "$c" "cn = \"aster test $c\"" ca cert_signing_key "expiration_days = 2"
		_cert_sign "$c" "$c"
	done
	_cert_key server
	_cert_tmpl server 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
		tls_www_server signing_key encryption_key "expiration_days = 2"
	_cert_sign server ca
	for c in ops-alice desk-bob eve; do
		_cert_key "$c"
		_cert_tmpl "$c" "cn = \"$c\"" tls_www_client signing_key "expiration_days = 2"
		_cert_sign "$c" ca
	done
	_cert_key expired
	_cert_tmpl expired 'cn = "ops-alice"' tls_www_client signing_key \
		'activation_date = "2020-01-01 00:00:00 UTC"' 'expiration_date = "2020-12-31 00:00:00 UTC"'
	_cert_sign expired ca
	_cert_key other-alice
	_cert_tmpl other-alice 'cn = "ops-alice"' tls_www_client signing_key "expiration_days = 2"
	_cert_sign other-alice other-ca
}

# https_settings DIR PORT: the settings lines of the HTTPS API with DIR's certificates:
# ops-alice writes, desk-bob reads.
https_settings() {
	cat <<YAML
https_bind: 127.0.0.1
https_port: $2
tls_cert: $1/server.pem
tls_key: $1/server.key
tls_client_ca: $1/ca.pem
write_certs: [ops-alice]
read_certs: [desk-bob]
YAML
}

# free_port: a free TCP port on loopback
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
