module github.com/ion-platform/ion/sdk/go

go 1.21
