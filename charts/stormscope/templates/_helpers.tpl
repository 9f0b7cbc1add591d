{{/* Names, labels and the flags both roles share. */}}

{{- define "stormscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stormscope.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "stormscope.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stormscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stormscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stormscope.labels" -}}
helm.sh/chart: {{ include "stormscope.chart" . }}
{{ include "stormscope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Object names per role. */}}
{{- define "stormscope.collector" -}}{{ include "stormscope.fullname" . | trunc 53 | trimSuffix "-" }}-collector{{- end -}}
{{- define "stormscope.app" -}}{{ include "stormscope.fullname" . | trunc 57 | trimSuffix "-" }}-app{{- end -}}
{{- define "stormscope.memcached" -}}{{ include "stormscope.fullname" . | trunc 53 | trimSuffix "-" }}-memcached{{- end -}}
{{- define "stormscope.probe" -}}{{ include "stormscope.fullname" . | trunc 57 | trimSuffix "-" }}-probe{{- end -}}

{{- define "stormscope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stormscope.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "stormscope.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "stormscope.memcachedImage" -}}
{{- if .Values.memcached.image.digest -}}
{{ .Values.memcached.image.repository }}@{{ .Values.memcached.image.digest }}
{{- else -}}
{{ .Values.memcached.image.repository }}:{{ .Values.memcached.image.tag }}
{{- end -}}
{{- end -}}

{{/* The Secret holding object-store credentials, or "" when the pods get none from the chart. */}}
{{- define "stormscope.objectStoreSecret" -}}
{{- if .Values.objectStore.s3.existingSecret -}}
{{ .Values.objectStore.s3.existingSecret }}
{{- else if or .Values.objectStore.s3.accessKeyId .Values.objectStore.s3.secretAccessKey -}}
{{ include "stormscope.fullname" . }}-object-store
{{- end -}}
{{- end -}}

{{- define "stormscope.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "stormscope.fullname" .)) .Values.tenancy.existingSecret -}}
{{- end -}}

{{/* memcached servers, comma-separated: the in-release StatefulSet's pods or the external list. */}}
{{- define "stormscope.memcachedServers" -}}
{{- if .Values.memcached.enabled -}}
{{- $name := include "stormscope.memcached" . -}}
{{- $servers := list -}}
{{- range $i := until (int .Values.memcached.replicas) -}}
{{- $servers = append $servers (printf "%s-%d.%s.%s.svc:%d" $name $i $name $.Release.Namespace (int $.Values.memcached.port)) -}}
{{- end -}}
{{- join "," $servers -}}
{{- else -}}
{{- join "," .Values.memcached.external -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by the collector and the app: storage, cache and tenancy flags. */}}
{{- define "stormscope.storageEnv" -}}
- name: STORMSCOPE_OBJECT_STORE
  value: {{ .Values.objectStore.url | quote }}
- name: STORMSCOPE_OBJECT_STORE_TIMEOUT
  value: {{ .Values.objectStore.timeout | quote }}
{{- with .Values.objectStore.s3.endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.objectStore.s3.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- if .Values.objectStore.s3.allowHttp }}
- name: AWS_ALLOW_HTTP
  value: "true"
{{- end }}
{{- with include "stormscope.objectStoreSecret" . }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.objectStore.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.objectStore.s3.secretAccessKeyKey }}
{{- end }}
- name: STORMSCOPE_MEMCACHED
  value: {{ include "stormscope.memcachedServers" . | quote }}
- name: STORMSCOPE_MEMCACHED_TIMEOUT
  value: {{ .Values.memcached.timeout | quote }}
- name: STORMSCOPE_MEMCACHED_ITEM_SIZE
  value: "{{ int .Values.memcached.itemSizeMiB }}MiB"
- name: STORMSCOPE_CACHE_TTL
  value: {{ .Values.memcached.cacheTtl | quote }}
- name: STORMSCOPE_TENANCY
  value: {{ .Values.tenancy.mode | quote }}
- name: STORMSCOPE_TENANT_HEADER
  value: {{ .Values.tenancy.tenantHeader | quote }}
{{- if eq .Values.tenancy.mode "token" }}
- name: STORMSCOPE_TOKENS_FILE
  value: /etc/stormscope/tokens/tokens
{{- end }}
- name: STORMSCOPE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/* The tokens file's volume and mount; only with tenancy token. */}}
{{- define "stormscope.tokensVolume" -}}
- name: tokens
  secret:
    secretName: {{ include "stormscope.tokensSecret" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.tenancy.existingSecretKey }}
        path: tokens
{{- end -}}

{{- define "stormscope.tokensMount" -}}
- name: tokens
  mountPath: /etc/stormscope/tokens
  readOnly: true
{{- end -}}

{{/* readiness on /readyz, liveness on /healthz, on the container's named port. */}}
{{- define "stormscope.healthProbes" -}}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
{{- end -}}

{{/* Extra label matchers for alert expressions: `{a="b"}` fragments without braces. */}}
{{- define "stormscope.alertSelector" -}}
{{- if .Values.prometheusRule.selector -}}, {{ .Values.prometheusRule.selector }}{{- end -}}
{{- end -}}
