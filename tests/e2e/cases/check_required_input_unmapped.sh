# a required input of the flow that the manifest leaves unmapped: file:line, exit 3
uhs check "$FIXTURES/required_unmapped"
