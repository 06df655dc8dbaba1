// The pod sandbox ("pause") binary for the e2e cluster's containerd. Its own
// module, deliberately NOT in go.work: build with GOWORK=off (hack/images/build.sh does).
module github.com/weatherstream/weather/hack/images/pause

go 1.24.0
