{{/*
NetworkPolicies (networkPolicy.*): one per component, in its directory,
selecting its pods (see networkPolicy in values.yaml). Built as data and
written with toYaml, so every peer and port is exactly what the values say.
The pieces more than one policy uses are here, as JSON.
*/}}

{{/* A component's pods, as a podSelector. Call with (dict "ctx" $ "component" "kafka"). */}}
{{- define "weather.networkPolicy.pods" -}}
{{- dict "matchLabels" (include "weather.selectorLabels" . | fromYaml) | toJson -}}
{{- end -}}

{{/* The release's services: the clients of Kafka, the pods a scraper reads. A list. */}}
{{- define "weather.networkPolicy.services" -}}
{{- $services := list "producer" "consumer" }}
{{- if .Values.debug.enabled }}{{ $services = append $services "debug" }}{{ end }}
{{- if .Values.dashboard.enabled }}{{ $services = append $services "dashboard" }}{{ end }}
{{- if .Values.controller.enabled }}{{ $services = append $services "controller" }}{{ end }}
{{- toJson $services -}}
{{- end -}}

{{/* Egress every pod has: DNS. */}}
{{- define "weather.networkPolicy.toDNS" -}}
{{- dict "to" .Values.networkPolicy.dnsTo "ports" (list (dict "port" 53 "protocol" "UDP") (dict "port" 53 "protocol" "TCP")) | toJson -}}
{{- end -}}

{{/*
A service's NetworkPolicy: its HTTP port from the scraper (the dashboard's
from its users too), out only to Kafka's client port and DNS (the
controller's to the Kubernetes API too). Call with
(dict "ctx" $ "component" "producer").
*/}}
{{- define "weather.networkPolicy.service" -}}
{{- $c := .component }}
{{- $np := .ctx.Values.networkPolicy }}
{{- $scraper := dict "namespaceSelector" $np.metrics.namespaceSelector "podSelector" $np.metrics.podSelector }}
{{- $http := list (dict "port" "http" "protocol" "TCP") }}
{{- $ingress := list (dict "from" (list $scraper) "ports" $http) }}
{{- if eq $c "dashboard" }}
{{- if $np.dashboardFrom }}
{{- /* The scraper and the helm test pod always; then whoever the values name. */}}
{{- $test := include "weather.networkPolicy.pods" (dict "ctx" .ctx "component" "test") | fromJson }}
{{- $from := concat (list $scraper (dict "podSelector" $test)) $np.dashboardFrom }}
{{- $ingress = list (dict "from" $from "ports" $http) }}
{{- else }}
{{- $ingress = list (dict "ports" $http) }}
{{- end }}
{{- end }}
{{- $toKafka := dict }}
{{- if .ctx.Values.kafka.enabled }}
{{- $kafka := include "weather.networkPolicy.pods" (dict "ctx" .ctx "component" "kafka") | fromJson }}
{{- $toKafka = dict "to" (list (dict "podSelector" $kafka)) "ports" (list (dict "port" 9092 "protocol" "TCP")) }}
{{- else }}
{{- $ports := list }}
{{- range $server := splitList "," (include "weather.kafka.bootstrapServers" .ctx) }}
{{- $port := dict "port" (regexFind "[0-9]+$" (trim $server) | int) "protocol" "TCP" }}
{{- if not (has $port $ports) }}{{ $ports = append $ports $port }}{{ end }}
{{- end }}
{{- $toKafka = dict "ports" $ports }}
{{- with $np.externalKafkaTo }}{{ $_ := set $toKafka "to" . }}{{ end }}
{{- end }}
{{- $egress := list $toKafka (include "weather.networkPolicy.toDNS" .ctx | fromJson) }}
{{- if eq $c "controller" }}
{{- $api := dict "ports" list }}
{{- range $np.apiServer.ports }}{{ $_ := set $api "ports" (append $api.ports (dict "port" (int .) "protocol" "TCP")) }}{{ end }}
{{- with $np.apiServer.to }}{{ $_ := set $api "to" . }}{{ end }}
{{- $egress = append $egress $api }}
{{- end }}
# The {{ $c }} pods: their HTTP port from the scraper{{ if eq $c "dashboard" }} and the page's users{{ end }}; out only to
# Kafka and DNS{{ if eq $c "controller" }} and the Kubernetes API{{ end }}.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "weather.fullname" .ctx }}-{{ $c }}
  labels:
    {{- include "weather.labels" . | nindent 4 }}
spec:
  {{- toYaml (dict "podSelector" (include "weather.networkPolicy.pods" . | fromJson) "policyTypes" (list "Ingress" "Egress") "ingress" $ingress "egress" $egress) | nindent 2 }}
{{- end -}}
