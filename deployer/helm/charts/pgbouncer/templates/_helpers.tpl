{{- define "pgbouncer.labels" -}}
app.kubernetes.io/name: pgbouncer
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: pgbouncer
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "pgbouncer.selector" -}}
app.kubernetes.io/name: pgbouncer
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
