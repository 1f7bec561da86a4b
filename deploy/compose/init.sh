#!/bin/sh
# One-shot set-up of the four-agency federation of deploy/compose.yaml (its `init`
# service, run as the image's user 10001 before any node starts).
#
# Writes into the `federation` volume (DATA, /data in the container):
#
#   public/federation.yaml      deploy/examples/federation.yaml restricted to the four,
#                               each base_url the node's address on the compose network
#   public/keys/ID.jwk.json     the four public keys
#   public/manifest.json        the manifest, signed by a quorum (3 of 4)  -> /manifest
#   ID/ID.toml                  node config with the bearer tokens' SHA-256 -> /etc/clearinghouse
#   ID/keys/ID.key.pem          the node's private key (0600)
#   ID/keys/ID.jwk.json         its public key
#   ID/pseudonym.key            the shared pseudonymisation key (0600)
#   ID/db-password              the password of the node's own database (0600), named by
#                               the node's CLEARINGHOUSE_DATABASE_PASSWORD_FILE
#   tokens/ID.json              the node's bearer tokens, in clear: for the operator only,
#                               mounted into no node
#
# Each node mounts only its own ID/ folder and public/. The database passwords come
# from the Compose secrets ID-db-password (SECRETS, /run/secrets), which Compose mounts
# as the host's files are (readable by all, which a node refuses for a secret): each is
# copied into its node's folder, owned by the node's user and readable by it alone.
# All four keys are made here, on one machine, because this is a demonstration
# network: in a real federation every body makes its own key and signs the manifest
# itself (README).
#
# Idempotent: once public/manifest.json exists nothing is changed; a run that died
# half-way is cleaned up and started again. Only `clearinghouse` commands and POSIX
# sh are used.
set -eu
umask 077

DATA=${CLEARINGHOUSE_INIT_DATA:-/data}
FEDERATION=${CLEARINGHOUSE_INIT_FEDERATION:-/config/federation.yaml}
SECRETS=${CLEARINGHOUSE_INIT_SECRETS:-/run/secrets}
PARTICIPANTS="mission unodc dpa undp"
SIGNERS="mission unodc dpa"
PORT=8100

if [ -f "$DATA/public/manifest.json" ]; then
    echo "init: $DATA/public/manifest.json exists; checking it and leaving everything as it is"
    clearinghouse manifest verify "$DATA/public/manifest.json"
    exit 0
fi

for p in $PARTICIPANTS public shared tokens; do
    rm -rf "${DATA:?}/$p"
done
mkdir -p "$DATA/public/keys" "$DATA/shared" "$DATA/tokens"

clearinghouse pseudonym-key --out "$DATA/shared/pseudonym.key"

for p in $PARTICIPANTS; do
    password_file="$SECRETS/$p-db-password"
    if [ ! -s "$password_file" ]; then
        echo "init: $password_file is missing or empty (see deploy/README.md)" >&2
        exit 2
    fi
    clearinghouse init --participant "$p" --dir "$DATA/$p" --port "$PORT" \
        --manifest /manifest/manifest.json --pseudonym-key /etc/clearinghouse/pseudonym.key
    mv "$DATA/$p/tokens.json" "$DATA/tokens/$p.json"
    cp "$DATA/shared/pseudonym.key" "$DATA/$p/pseudonym.key"
    cp "$DATA/$p/keys/$p.jwk.json" "$DATA/public/keys/$p.jwk.json"
    # Copied whole: the node, like PostgreSQL's POSTGRES_PASSWORD_FILE, drops final newlines.
    cat "$password_file" > "$DATA/$p/db-password"
done

clearinghouse federation restrict $PARTICIPANTS --config "$FEDERATION" \
    --base-url "http://{id}:$PORT" --out "$DATA/public/federation.yaml"

pending="$DATA/public/manifest.pending.json"
clearinghouse manifest create --config "$DATA/public/federation.yaml" \
    --keys "$DATA/public/keys" --out "$pending"
for p in $SIGNERS; do
    clearinghouse manifest sign "$pending" --participant "$p" --key "$DATA/$p/keys/$p.key.pem"
done
clearinghouse manifest verify "$pending"
mv "$pending" "$DATA/public/manifest.json"
echo "init: federation ready; bearer tokens are in $DATA/tokens/"
