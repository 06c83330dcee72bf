module github.com/healthd/healthd

go 1.26.8
