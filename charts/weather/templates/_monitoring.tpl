{{/*
Monitoring (metrics.*): the Prometheus Operator's objects and the Grafana
dashboard. Every service (not Kafka) serves /metrics on its port "http".
*/}}

{{/* The components whose pods serve /metrics. */}}
{{- define "weather.metrics.components" -}}
{{- list "producer" "consumer" "debug" "dashboard" "controller" | toJson -}}
{{- end -}}

{{/*
The label selector of the scraped objects (Services or pods): this release's
services, Kafka left out.
*/}}
{{- define "weather.metrics.selector" -}}
matchLabels:
  app.kubernetes.io/name: {{ include "weather.name" . }}
  app.kubernetes.io/instance: {{ .Release.Name }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values:
      {{- include "weather.metrics.components" . | fromJsonArray | toYaml | nindent 6 }}
{{- end -}}

{{/*
One scrape endpoint of a ServiceMonitor or PodMonitor. Call with (dict "ctx"
$ "monitor" .Values.metrics.serviceMonitor). The first relabelings are the
chart's: every series gets weather_release and weather_component, the labels
the alert rules and the dashboard select on (files/alerts.yaml).
*/}}
{{- define "weather.metrics.endpoint" -}}
{{- $m := .monitor -}}
port: http
path: /metrics
{{- with $m.interval }}
interval: {{ . | quote }}
{{- end }}
{{- with $m.scrapeTimeout }}
scrapeTimeout: {{ . | quote }}
{{- end }}
honorLabels: {{ $m.honorLabels }}
relabelings:
  - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance]
    targetLabel: weather_release
  - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
    targetLabel: weather_component
  {{- with $m.relabelings }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $m.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The headless Service through which the ServiceMonitor scrapes a component
whose pods have no Service of their own (the producer, the debug consumer,
the controller). Call with (dict "ctx" $ "component" "producer").
*/}}
{{- define "weather.metrics.service" -}}
# The {{ .component }}'s /metrics for the ServiceMonitor.
apiVersion: v1
kind: Service
metadata:
  name: {{ include "weather.fullname" .ctx }}-{{ .component }}
  labels:
    {{- include "weather.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "weather.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ int .ctx.Values.httpPort }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{- define "weather.metrics.checks" -}}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.podMonitor.enabled -}}
{{- fail "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled: both scrape the same pods (every series twice); enable one" -}}
{{- end -}}
{{- end -}}
