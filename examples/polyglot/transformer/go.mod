module example.com/ion/polyglot/transformer

go 1.21

require github.com/ion-platform/ion/sdk/go v0.0.0

replace github.com/ion-platform/ion/sdk/go => ../../../sdk/go
