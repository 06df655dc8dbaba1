module github.com/weatherstream/weather/services/integration

go 1.26.0
