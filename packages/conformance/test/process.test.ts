import { simulatorSuite } from "./simulatorSuite.js"

simulatorSuite("process")
