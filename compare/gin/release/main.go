// The same service tuned the way a Go team would run it in production: gin in
// release mode, panics recovered, and no log line per request (the Rust service
// logs none either), so that the comparison measures the servers, not stdout.
package main

import "github.com/gin-gonic/gin"

func main() {
	gin.SetMode(gin.ReleaseMode)
	router := gin.New()
	router.Use(gin.Recovery())
	router.GET("/ping", func(c *gin.Context) {
		c.String(200, "PONG")
	})
	router.Run(":8080")
}
