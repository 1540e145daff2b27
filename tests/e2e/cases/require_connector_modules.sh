# flows require their connector's own modules, and nothing else
uh run tests/e2e/fixtures/connectors/modules e
