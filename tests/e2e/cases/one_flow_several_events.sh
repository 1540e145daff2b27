# one deregistration flow reused by two events with different mappings
uh check tests/e2e/fixtures/connectors/shared
uh run tests/e2e/fixtures/connectors/shared orders --option space=s1
uh run tests/e2e/fixtures/connectors/shared invoices --option space=s2
uh run tests/e2e/fixtures/connectors/shared invoices --option space=s3 --option kind=credit
uh run tests/e2e/fixtures/connectors/shared orders --option space=s4 --option kind=credit
