-- The hex domains' format checks without bounded repetition. PostgreSQL's regex engine unrolls
-- `{128}` into that many states: the signature check cost ≈ 45 µs per value in PGlite and was a
-- third of inserting a proof's answers. A length test and an unbounded class accept exactly the
-- same values (lowercase 0x-hex of the domain's length) at a few µs. Constraint names unchanged.
ALTER DOMAIN evm_address DROP CONSTRAINT evm_address_format;
ALTER DOMAIN evm_address ADD CONSTRAINT evm_address_format
  CHECK (length(VALUE) = 42 AND VALUE ~ '^0x[0-9a-f]*$');
ALTER DOMAIN bytes32 DROP CONSTRAINT bytes32_format;
ALTER DOMAIN bytes32 ADD CONSTRAINT bytes32_format
  CHECK (length(VALUE) = 66 AND VALUE ~ '^0x[0-9a-f]*$');
ALTER DOMAIN ecdsa_signature DROP CONSTRAINT ecdsa_signature_format;
ALTER DOMAIN ecdsa_signature ADD CONSTRAINT ecdsa_signature_format
  CHECK (length(VALUE) = 132 AND VALUE ~ '^0x[0-9a-f]*(1b|1c)$');
ALTER DOMAIN hex_bytes DROP CONSTRAINT hex_bytes_format;
ALTER DOMAIN hex_bytes ADD CONSTRAINT hex_bytes_format
  CHECK (length(VALUE) % 2 = 0 AND VALUE ~ '^0x[0-9a-f]*$');
