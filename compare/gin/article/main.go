// The original article's service, as it writes it: gin's default engine, which
// logs every request to stdout and recovers from panics.
package main

import "github.com/gin-gonic/gin"

func main() {
	router := gin.Default()
	router.GET("/ping", func(c *gin.Context) {
		c.String(200, "PONG")
	})
	router.Run(":8080")
}
