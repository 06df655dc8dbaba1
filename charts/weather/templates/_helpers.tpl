{{/*
Names. The prefix of every resource is the release name if it already
contains the chart name ("weather"), else "<release>-weather", cut to 63
characters minus the longest suffix the chart adds ("-kafka-headless").
*/}}
{{- define "weather.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "weather.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weather.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource names of the components. */}}
{{- define "weather.kafka.fullname" -}}{{ include "weather.fullname" . }}-kafka{{- end -}}
{{- define "weather.kafka.headless" -}}{{ include "weather.fullname" . }}-kafka-headless{{- end -}}
{{- define "weather.producer.fullname" -}}{{ include "weather.fullname" . }}-producer{{- end -}}
{{- /* The stats consumers' StatefulSet, its Service and budget. */}}
{{- define "weather.consumer.fullname" -}}{{ include "weather.fullname" . }}-stats{{- end -}}
{{- /* Where the shared-volume chart (up to 0.1.0 of 2026-12-02) kept the stats:
one PVC of every consumer pod, left behind by an upgrade (resource-policy keep). */}}
{{- define "weather.consumer.sharedClaim" -}}{{ include "weather.fullname" . }}-stats{{- end -}}
{{- define "weather.consumer.previousStatefulSet" -}}{{ include "weather.fullname" . }}-consumer{{- end -}}
{{- define "weather.debug.fullname" -}}{{ include "weather.fullname" . }}-debug{{- end -}}
{{- define "weather.dashboard.fullname" -}}{{ include "weather.fullname" . }}-dashboard{{- end -}}
{{- define "weather.controller.fullname" -}}{{ include "weather.fullname" . }}-controller{{- end -}}
{{- /* The controller's ClusterRole and its binding: cluster-wide, so the
namespace is in the name (two releases of one name in two namespaces). */}}
{{- define "weather.controller.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "weather.controller.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels. Call with (dict "ctx" $ "component" "producer").
*/}}
{{- define "weather.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weather.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "weather.labels" -}}
helm.sh/chart: {{ include "weather.chart" .ctx }}
{{ include "weather.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "weather.name" .ctx }}
{{- if .ctx.Chart.AppVersion }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/*
An image reference. Call with (dict "ctx" $ "image" .Values.producer.image);
the tag defaults to the chart's appVersion.
*/}}
{{- define "weather.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .ctx.Chart.AppVersion | toString) -}}
{{- end -}}

{{/*
storageClassName line of a PVC spec: "" omits it (the default class), "-"
is storageClassName: "" (no dynamic provisioning).
*/}}
{{- define "weather.storageClass" -}}
{{- if eq . "-" -}}
storageClassName: ""
{{- else if . -}}
storageClassName: {{ . | quote }}
{{- end -}}
{{- end -}}

{{/*
Kafka: the bootstrap servers every service gets as KAFKA_BROKERS.
*/}}
{{- define "weather.kafka.bootstrapServers" -}}
{{- if .Values.kafka.enabled -}}
{{ include "weather.kafka.fullname" . }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:9092
{{- else -}}
{{ required "externalKafka.bootstrapServers is required when kafka.enabled is false" .Values.externalKafka.bootstrapServers }}
{{- end -}}
{{- end -}}

{{/*
The chart's Kafka: its number of brokers, kafka.replicas, checked. 1, or 3
and more: with 2 the topics' replication factor 3 cannot be placed, and at
replication factor 2 with min.insync.replicas 2 the loss of either broker
stops every write, so a second broker would only add a way to fail.
*/}}
{{- define "weather.kafka.replicas" -}}
{{- $n := int .Values.kafka.replicas -}}
{{- if eq $n 2 -}}
{{- fail "kafka.replicas is 2: use 1, or 3 or more (two brokers cannot keep min.insync.replicas 2 through the loss of one, so a second broker adds a way to fail and no safety)" -}}
{{- end -}}
{{- if lt $n 1 -}}
{{- fail (printf "kafka.replicas is %d: use 1, or 3 or more" $n) -}}
{{- end -}}
{{- $n -}}
{{- end -}}

{{/*
The chart's Kafka: the static quorum, controller.quorum.voters. One broker
is its own voter on localhost (no name to resolve before it runs); with more
every broker is a voter at its pod's stable DNS name, node id = ordinal + 1.
*/}}
{{- define "weather.kafka.quorumVoters" -}}
{{- $n := int (include "weather.kafka.replicas" .) -}}
{{- if eq $n 1 -}}
1@localhost:9093
{{- else -}}
{{- $voters := list -}}
{{- range $i := until $n -}}
{{- $voters = append $voters (printf "%d@%s-%d.%s.%s.svc.%s:9093" (add1 $i) (include "weather.kafka.fullname" $) $i (include "weather.kafka.headless" $) $.Release.Namespace $.Values.clusterDomain) -}}
{{- end -}}
{{- join "," $voters -}}
{{- end -}}
{{- end -}}

{{/*
The topic's replication factor (TOPIC_REPLICATION_FACTOR): topic.replicationFactor,
or with 0 (the default) min(3, kafka.replicas) on the chart's Kafka, and 1
on an external one (the chart cannot see its brokers; 1 was the default
before 0 followed the brokers). On the chart's Kafka it must fit:
1 <= RF <= kafka.replicas.
*/}}
{{- define "weather.topic.replicationFactor" -}}
{{- $rf := int .Values.topic.replicationFactor -}}
{{- if .Values.kafka.enabled -}}
{{- $brokers := int (include "weather.kafka.replicas" .) -}}
{{- if eq $rf 0 -}}
{{- $rf = min 3 $brokers -}}
{{- end -}}
{{- if gt $rf $brokers -}}
{{- fail (printf "topic.replicationFactor is %d, but the chart's Kafka (kafka.enabled) has kafka.replicas=%d broker(s): use at most %d, or 0 to follow the brokers" $rf $brokers $brokers) -}}
{{- end -}}
{{- else if eq $rf 0 -}}
{{- $rf = 1 -}}
{{- end -}}
{{- $rf -}}
{{- end -}}

{{/* Where the external Kafka's Secrets are mounted, read-only: a file per key. */}}
{{- define "weather.kafka.caDir" -}}/etc/weather/kafka-ca{{- end -}}
{{- define "weather.kafka.clientCertDir" -}}/etc/weather/kafka-client-cert{{- end -}}
{{- define "weather.kafka.saslDir" -}}/etc/weather/kafka-sasl{{- end -}}

{{/*
External Kafka: how one component connects, its principal resolved. The
principal is externalKafka.principals.<component>, each empty field taken
from the shared one: username and passwordSecret.name and .key from
externalKafka.sasl, clientCertSecret.name from externalKafka.tls (whose
certKey and keyKey every component uses). Any TLS setting (a CA, a client
certificate, a server name) means TLS. Fails when SASL lacks a username or a
password Secret, or credentials are given without a mechanism. The chart's
own Kafka (kafka.enabled) is plaintext: everything empty. Call with
(dict "ctx" $ "component" "producer"). Returns JSON:
{"tls": true, "caSecret": {"name", "key"}, "serverName": "",
 "clientCertSecret": {"name", "certKey", "keyKey"},
 "sasl": {"mechanism", "username", "passwordSecret": {"name", "key"}}},
a "" name meaning no such Secret.
*/}}
{{- define "weather.kafka.client" -}}
{{- $none := dict "name" "" -}}
{{- $client := dict "tls" false "caSecret" $none "serverName" "" "clientCertSecret" $none
  "sasl" (dict "mechanism" "" "username" "" "passwordSecret" $none) -}}
{{- if not .ctx.Values.kafka.enabled -}}
{{- $ek := .ctx.Values.externalKafka -}}
{{- $at := printf "externalKafka.principals.%s" .component -}}
{{- $own := index $ek.principals .component -}}
{{- $sasl := $ek.sasl -}}
{{- $username := $own.username | default $sasl.username -}}
{{- $password := dict "name" ($own.passwordSecret.name | default $sasl.passwordSecret.name)
  "key" ($own.passwordSecret.key | default $sasl.passwordSecret.key) -}}
{{- if $sasl.mechanism -}}
{{- if not $username -}}
{{- fail (printf "externalKafka.sasl.mechanism is %s: %s.username or externalKafka.sasl.username is required" $sasl.mechanism $at) -}}
{{- end -}}
{{- if not $password.name -}}
{{- fail (printf "externalKafka.sasl.mechanism is %s: %s.passwordSecret.name or externalKafka.sasl.passwordSecret.name (an existing Secret with the password) is required" $sasl.mechanism $at) -}}
{{- end -}}
{{- else -}}
{{- $credentials := dict "externalKafka.sasl.username" $sasl.username "externalKafka.sasl.passwordSecret.name" $sasl.passwordSecret.name
  (printf "%s.username" $at) $own.username (printf "%s.passwordSecret.name" $at) $own.passwordSecret.name
  (printf "%s.passwordSecret.key" $at) $own.passwordSecret.key -}}
{{- range $key, $value := $credentials -}}
{{- if $value -}}
{{- fail (printf "%s is set but externalKafka.sasl.mechanism is empty (no SASL): set the mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) or leave the credentials out" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $cert := dict "name" ($own.clientCertSecret.name | default $ek.tls.clientCertSecret.name)
  "certKey" $ek.tls.clientCertSecret.certKey "keyKey" $ek.tls.clientCertSecret.keyKey -}}
{{- $tls := false -}}
{{- if or $ek.tls.enabled $ek.tls.caSecret.name $ek.tls.serverName $cert.name -}}
{{- $tls = true -}}
{{- end -}}
{{- $client = dict "tls" $tls "caSecret" $ek.tls.caSecret "serverName" $ek.tls.serverName "clientCertSecret" $cert
  "sasl" (dict "mechanism" $sasl.mechanism "username" $username "passwordSecret" $password) -}}
{{- end -}}
{{- toJson $client -}}
{{- end -}}

{{/*
External Kafka: a component's TLS and SASL environment, from
weather.kafka.client (call as that). Secrets are files of
weather.kafka.secretVolumes, never environment values.
*/}}
{{- define "weather.kafka.securityEnv" -}}
{{- $c := include "weather.kafka.client" . | fromJson -}}
{{- if $c.tls }}
- name: KAFKA_TLS
  value: "true"
{{- end }}
{{- if $c.caSecret.name }}
- name: KAFKA_TLS_CA_FILE
  value: {{ printf "%s/%s" (include "weather.kafka.caDir" .) $c.caSecret.key | quote }}
{{- end }}
{{- if $c.clientCertSecret.name }}
- name: KAFKA_TLS_CERT_FILE
  value: {{ printf "%s/%s" (include "weather.kafka.clientCertDir" .) $c.clientCertSecret.certKey | quote }}
- name: KAFKA_TLS_KEY_FILE
  value: {{ printf "%s/%s" (include "weather.kafka.clientCertDir" .) $c.clientCertSecret.keyKey | quote }}
{{- end }}
{{- with $c.serverName }}
- name: KAFKA_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if $c.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $c.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ $c.sasl.username | quote }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "%s/%s" (include "weather.kafka.saslDir" .) $c.sasl.passwordSecret.key | quote }}
{{- end }}
{{- end -}}

{{/*
External Kafka: the Secrets a component reads its CA, client certificate and
SASL password from (weather.kafka.client; call as that), as the pod's
volumes and the container's mounts of them, read-only: one volume per Secret,
a file per key. Mode 0440 (288): the files belong to root and the pod's
fsGroup (65532), which the services run in. Returns JSON
{"volumes": [...], "mounts": [...]}, both empty without any.
*/}}
{{- define "weather.kafka.secretVolumes" -}}
{{- $c := include "weather.kafka.client" . | fromJson -}}
{{- $secrets := list -}}
{{- if $c.caSecret.name -}}
{{- $secrets = append $secrets (dict "volume" "kafka-ca" "dir" (include "weather.kafka.caDir" .)
  "secret" $c.caSecret.name "keys" (list $c.caSecret.key)) -}}
{{- end -}}
{{- if $c.clientCertSecret.name -}}
{{- /* one key for both: a PEM file with the certificate and the key */ -}}
{{- $secrets = append $secrets (dict "volume" "kafka-client-cert" "dir" (include "weather.kafka.clientCertDir" .)
  "secret" $c.clientCertSecret.name "keys" (list $c.clientCertSecret.certKey $c.clientCertSecret.keyKey | uniq)) -}}
{{- end -}}
{{- if $c.sasl.mechanism -}}
{{- $secrets = append $secrets (dict "volume" "kafka-sasl" "dir" (include "weather.kafka.saslDir" .)
  "secret" $c.sasl.passwordSecret.name "keys" (list $c.sasl.passwordSecret.key)) -}}
{{- end -}}
{{- $volumes := list -}}
{{- $mounts := list -}}
{{- range $secrets -}}
{{- $items := list -}}
{{- range .keys }}{{ $items = append $items (dict "key" . "path" .) }}{{ end -}}
{{- $volumes = append $volumes (dict "name" .volume "secret" (dict "secretName" .secret "items" $items "defaultMode" 288)) -}}
{{- $mounts = append $mounts (dict "name" .volume "mountPath" .dir "readOnly" true) -}}
{{- end -}}
{{- dict "volumes" $volumes "mounts" $mounts | toJson -}}
{{- end -}}

{{/*
Environment of every service: Kafka connection, topic, logs. Call with
(dict "ctx" $ "component" "producer"): the Kafka principal is the
component's.
*/}}
{{- define "weather.commonEnv" -}}
- name: KAFKA_BROKERS
  value: {{ include "weather.kafka.bootstrapServers" .ctx | quote }}
- name: TOPIC
  value: {{ .ctx.Values.topic.name | quote }}
- name: KAFKA_CONNECT_TIMEOUT
  value: {{ .ctx.Values.kafkaConnectTimeout | quote }}
{{- include "weather.kafka.securityEnv" . }}
- name: LOG_FORMAT
  value: {{ .ctx.Values.logging.format | quote }}
- name: LOG_LEVEL
  value: {{ .ctx.Values.logging.level | quote }}
{{- end -}}

{{/*
Environment of the pipeline's services (the controller serves metrics and
health on addresses of its own): the common one and their HTTP server. Call
as weather.commonEnv.
*/}}
{{- define "weather.serviceEnv" -}}
{{ include "weather.commonEnv" . }}
- name: HTTP_ADDR
  value: {{ printf ":%d" (int .ctx.Values.httpPort) | quote }}
{{- end -}}

{{/*
Hardening shared by the service pods (distroless, uid 65532).
*/}}
{{- define "weather.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "weather.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The HTTP port and the probes on it, for the service containers. */}}
{{- define "weather.httpPortAndProbes" -}}
ports:
  - name: http
    containerPort: {{ int .Values.httpPort }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 3
{{- end -}}

{{/*
Consumers: the partitions of each StatefulSet ordinal, as one list per
ordinal. From consumer.assignments when given (checked: every partition of
the topic exactly once), else partition p goes to ordinal p % replicas.
Returns JSON: {"lists": [[0,2],[1,3]]}.
*/}}
{{- define "weather.consumer.assignmentLists" -}}
{{- $partitions := int .Values.topic.partitions -}}
{{- $lists := list -}}
{{- if .Values.consumer.assignments -}}
{{- $owner := dict -}}
{{- range $ordinal, $entry := .Values.consumer.assignments -}}
{{- $mine := list -}}
{{- range $entry -}}
{{- $p := int . -}}
{{- if or (lt $p 0) (ge $p $partitions) -}}
{{- fail (printf "consumer.assignments[%d] names partition %d, but topic.partitions is %d" $ordinal $p $partitions) -}}
{{- end -}}
{{- if hasKey $owner (toString $p) -}}
{{- fail (printf "consumer.assignments gives partition %d to ordinals %v and %d" $p (get $owner (toString $p)) $ordinal) -}}
{{- end -}}
{{- $_ := set $owner (toString $p) $ordinal -}}
{{- end -}}
{{- /* sorted, as the consumer reads it */ -}}
{{- range $p := until $partitions -}}
{{- if eq (toString (get $owner (toString $p))) (toString $ordinal) -}}
{{- $mine = append $mine $p -}}
{{- end -}}
{{- end -}}
{{- $lists = append $lists $mine -}}
{{- end -}}
{{- range $p := until $partitions -}}
{{- if not (hasKey $owner (toString $p)) -}}
{{- fail (printf "consumer.assignments gives partition %d to no ordinal (topic.partitions is %d)" $p $partitions) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $replicas := int .Values.consumer.replicas -}}
{{- range $ordinal := until $replicas -}}
{{- $mine := list -}}
{{- range $p := until $partitions -}}
{{- if eq (mod $p $replicas) $ordinal -}}
{{- $mine = append $mine $p -}}
{{- end -}}
{{- end -}}
{{- $lists = append $lists $mine -}}
{{- end -}}
{{- end -}}
{{- dict "lists" $lists | toJson -}}
{{- end -}}

{{/* Consumers: the StatefulSet's replicas. */}}
{{- define "weather.consumer.replicas" -}}
{{- if .Values.consumer.assignments -}}
{{- len .Values.consumer.assignments -}}
{{- else -}}
{{- int .Values.consumer.replicas -}}
{{- end -}}
{{- end -}}

{{/*
Consumers: PARTITIONS_BY_ORDINAL, "0,2;1,3" (entry i is ordinal i's list; an
empty or missing entry is a spare). Trailing empty entries are left out, the
form the partition controller writes. This is the one place the chart
decides the assignment: a controller that rebalances on scale
(controller.enabled) takes over this value in the StatefulSet.
*/}}
{{- define "weather.consumer.partitionsByOrdinal" -}}
{{- $entries := list -}}
{{- $last := -1 -}}
{{- range $i, $list := (include "weather.consumer.assignmentLists" . | fromJson).lists -}}
{{- $ps := list -}}
{{- range $list }}{{ $ps = append $ps (int . | toString) }}{{ end -}}
{{- $entries = append $entries (join "," $ps) -}}
{{- if $ps }}{{ $last = $i }}{{ end -}}
{{- end -}}
{{- join ";" (slice $entries 0 (add1 $last | int)) -}}
{{- end -}}

{{/*
Consumers: the PARTITIONS_BY_ORDINAL the StatefulSet gets. With the
controller on, an upgrade keeps the live value: the controller owns it, and
jumping straight to a new assignment in one rolling update could give a
partition to an old and a new pod at once; the controller steps there.
*/}}
{{- define "weather.consumer.partitionsByOrdinalLive" -}}
{{- $value := include "weather.consumer.partitionsByOrdinal" . -}}
{{- if .Values.controller.enabled -}}
{{- $live := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "weather.consumer.fullname" .) -}}
{{- if $live -}}
{{- range $live.spec.template.spec.containers -}}
{{- if eq .name "consumer" -}}
{{- range .env -}}
{{- if eq .name "PARTITIONS_BY_ORDINAL" }}{{ $value = .value }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $value -}}
{{- end -}}

{{/*
Pod template metadata of a component: the chart's labels plus the
component's podLabels, and its podAnnotations after the chart's own ones
(.annotations, e.g. a config checksum). Neither may replace the chart's: the
selectors, Services and NetworkPolicies rely on its labels. Call with
(dict "ctx" $ "component" "consumer" "values" .Values.consumer), plus
"annotations" (dict ...) for the chart's own.
*/}}
{{- define "weather.podMetadata" -}}
{{- $labels := include "weather.labels" . | fromYaml -}}
{{- range $k, $v := .values.podLabels -}}
{{- if hasKey $labels $k -}}
{{- fail (printf "%s.podLabels: %s is a label the chart sets itself" $.component $k) -}}
{{- end -}}
{{- $_ := set $labels $k $v -}}
{{- end -}}
{{- $annotations := deepCopy (get . "annotations" | default dict) -}}
{{- range $k, $v := .values.podAnnotations -}}
{{- if hasKey $annotations $k -}}
{{- fail (printf "%s.podAnnotations: %s is an annotation the chart sets itself" $.component $k) -}}
{{- end -}}
{{- $_ := set $annotations $k $v -}}
{{- end -}}
labels:
  {{- toYaml $labels | nindent 2 }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Scheduling of a component's pods, from its values: priorityClassName,
nodeSelector, tolerations, affinity and topologySpreadConstraints, where a
constraint without a labelSelector gets the component's own pods (what a
spread of "these pods" means). Call as weather.podMetadata; "" when all are
empty.
*/}}
{{- define "weather.podScheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range . }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "weather.selectorLabels" $ | fromYaml)) }}
{{- end }}
  - {{ toYaml $c | nindent 4 | trim }}
{{- end }}
{{- end }}
{{- end -}}
