package server

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/modferry/modferry/internal/buildinfo"
)

// Metrics are the server's Prometheus metrics.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the server metrics, and the Go runtime and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modferry_http_requests_total",
			Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modferry_http_response_bytes_total",
			Help: "Response body bytes sent, by endpoint.",
		}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "modferry_http_request_duration_seconds",
			Help:    "Time to serve a request, by endpoint.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
	}
	m.Registry.MustRegister(m.requests, m.bytes, m.latency, buildInfoGauge(buildinfo.Read()),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// buildInfoGauge is modferry_build_info: always 1, with what the binary
// was built from as labels.
func buildInfoGauge(bi buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modferry_build_info",
		Help: "Always 1; the labels say what the running modferry was built from.",
		ConstLabels: prometheus.Labels{
			"version":   bi.Version,
			"revision":  bi.Revision,
			"time":      bi.Time,
			"goversion": bi.GoVersion,
		},
	})
	g.Set(1)
	return g
}

// endpointStats are the metric children of one endpoint, resolved once.
type endpointStats struct {
	bytes   prometheus.Counter
	latency prometheus.Observer
	ok      prometheus.Counter // code 200, the common case
	name    string
}

func (m *Metrics) endpoint(name string) *endpointStats {
	return &endpointStats{
		bytes:   m.bytes.WithLabelValues(name),
		latency: m.latency.WithLabelValues(name),
		ok:      m.requests.WithLabelValues(name, "200"),
		name:    name,
	}
}

func (m *Metrics) observe(e *endpointStats, code int, n int64, start time.Time) {
	if code == http.StatusOK {
		e.ok.Inc()
	} else {
		m.requests.WithLabelValues(e.name, strconv.Itoa(code)).Inc()
	}
	e.bytes.Add(float64(n))
	e.latency.Observe(time.Since(start).Seconds())
}

// recorder notes the status and body size of a response. It keeps
// io.ReaderFrom so that http.ServeContent still reaches sendfile.
type recorder struct {
	http.ResponseWriter
	code  int
	n     int64
	start time.Time      // when the request arrived
	ep    *endpointStats // set by the route that took the request
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	rf, ok := r.ResponseWriter.(io.ReaderFrom)
	if !ok {
		// HTTP/2 (TLS) response writers have no ReadFrom: copy through
		// Write, hiding this method from io.Copy.
		return io.Copy(writerOnly{r}, src)
	}
	n, err := rf.ReadFrom(src)
	r.n += n
	return n, err
}

// writerOnly hides every method but Write.
type writerOnly struct{ io.Writer }

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
